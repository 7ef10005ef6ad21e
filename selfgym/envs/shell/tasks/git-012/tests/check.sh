[ "$(vgit app symbolic-ref --short HEAD)" = main ]
[ "$(vgit app rev-parse HEAD)" = 72b39b189d8f40111d9e5441bfb7c6101b3ffef2 ]
[ "$(cat app/payment.py)" = pay ]
[ -z "$(cd app && vgit . status --porcelain)" ]
