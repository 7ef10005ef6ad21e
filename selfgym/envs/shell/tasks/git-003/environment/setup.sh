git config --global user.name "Sandbox Dev" && git config --global user.email dev@example.com
git config --global init.defaultBranch main
mkdir service && cd service && git init -q
echo 'NAME = "svc"' > settings.py && git add . && git commit -qm "initial settings"
echo 'LOG_LEVEL = "info"' >> settings.py && git commit -qam "add log level"
echo 'DEBUG = True' >> settings.py && git commit -qam "tune logging for staging"
echo 'print("hi")' > main.py && git add main.py && git commit -qm "add entry point"
echo 'TIMEOUT = 30' >> settings.py && git commit -qam "raise timeout"
