cat > stack.log <<'LOG'
INFO start
Traceback (most recent call last):
  File "a.py", line 3, in <module>
    main()
ValueError: bad value
INFO retry
WARNING: Traceback ahead
Traceback (most recent call last):
  File "b.py", line 9, in run
KeyError: 'user'
INFO done
LOG
