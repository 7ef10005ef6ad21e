printf 'name,score\nkim,88\nlou,9\nmo,100\nnia,72\nolu,88\npat,91\n' > scores.csv
