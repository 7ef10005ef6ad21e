for v in v1.2.0 v1.9.3 v1.10.0 v0.12.5; do mkdir -p "releases/$v"; echo "$v" > "releases/$v/VERSION"; done
