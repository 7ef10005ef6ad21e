mkdir -p project/src project/node_modules/lib project/logs
echo 'main' > project/src/main.js
echo 'pkg' > project/package.json
echo 'dep' > project/node_modules/lib/index.js
echo 'log' > project/logs/run.log
echo 'log' > project/debug.log
echo 'readme' > project/logs/README
