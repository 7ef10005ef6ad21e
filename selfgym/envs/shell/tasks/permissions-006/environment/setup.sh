mkdir -p private/keys private/bin
echo k > private/keys/id; chmod 644 private/keys/id
echo s > private/bin/tool; chmod 755 private/bin/tool
echo n > private/notes; chmod 664 private/notes
echo r > private/bin/run; chmod 744 private/bin/run
echo w > private/keys/weird; chmod 611 private/keys/weird
echo o > private/readonly; chmod 444 private/readonly
echo e > private/bin/locked; chmod 555 private/bin/locked
chmod 755 private private/keys private/bin
