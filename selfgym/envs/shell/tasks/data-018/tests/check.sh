[ "$(cat paths.txt)" = "$(printf 'limits.cpu\nlimits.mem.max\nservers.0.port\nservers.1.port\nservers.1.weight')" ]
