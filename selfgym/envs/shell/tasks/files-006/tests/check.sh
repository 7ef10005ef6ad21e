[ "$(ls photos | tr '\n' ' ')" = "a.jpg b.jpg d.jpg " ]
[ "$(cat photos/a.jpg photos/b.jpg photos/d.jpg)" = AAAABBBBCCCC ]
