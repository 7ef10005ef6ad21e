[ -d project/src ]
[ -f project/src/__init__.py ]
[ ! -s project/src/__init__.py ]
