[ "$(cd music && find . -type f | sort | tr '\n' ',')" = "./a__b__c.ogg,./my_song.mp3,./old albums/live_at_home.mp3,./plain.mp3," ]
[ "$(cat 'music/old albums/live_at_home.mp3')" = 'music/old albums/live at home.mp3' ]
