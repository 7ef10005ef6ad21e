mkdir steps
printf 'DEPENDS = []\n' > steps/fetch.py
printf 'DEPENDS = ["fetch"]\n' > steps/parse.py
printf 'DEPENDS = ["parse", "config"]\n' > steps/build.py
printf 'DEPENDS = []\n' > steps/config.py
printf 'DEPENDS = ["build"]\n' > steps/test.py
printf 'DEPENDS = ["build", "config"]\n' > steps/package.py
printf 'DEPENDS = ["test", "package"]\n' > steps/release.py
