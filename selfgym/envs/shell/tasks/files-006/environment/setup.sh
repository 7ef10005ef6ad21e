mkdir photos
printf 'AAAA' > photos/a.jpg
printf 'BBBB' > photos/b.jpg
printf 'AAAA' > photos/c.jpg
printf 'CCCC' > photos/d.jpg
printf 'BBBB' > photos/e.jpg
printf 'AAAA' > photos/f.jpg
