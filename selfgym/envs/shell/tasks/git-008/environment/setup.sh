git config --global init.defaultBranch main
mkdir shop && cd shop && git init -q
c() { GIT_AUTHOR_NAME="$1" GIT_AUTHOR_EMAIL="$1@shop.test" GIT_COMMITTER_NAME="$1" GIT_COMMITTER_EMAIL="$1@shop.test" git commit -qam "$2"; }
printf 'NAME = "shop"\nTAX_RATE = 0.19\nCURRENCY = "EUR"\n' > config.py && git add . && c "Ines Ruiz" "initial config"
sed -i 's/TAX_RATE = 0.19/TAX_RATE = 0.21/' config.py && c "Tom Berg" "raise tax"
sed -i 's/CURRENCY = "EUR"/CURRENCY = "USD"/' config.py && c "Lena Koch" "switch currency"
printf '# settings\n' | cat - config.py > c.tmp && mv c.tmp config.py && c "Ines Ruiz" "add header"
