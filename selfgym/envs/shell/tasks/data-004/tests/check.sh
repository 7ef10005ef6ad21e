[ "$(cat report.csv)" = "$(printf 'name,logins\ncarla,2\nahmed,3\nbea,1\ndmitri,0')" ]
