[ "$(cat /logs/artifacts/out.txt)" = 'cr-me-br-l-e-2024|a-b||already-slug|x' ]
