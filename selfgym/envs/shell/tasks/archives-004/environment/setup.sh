mkdir inner outer
echo quartz-harbor-17 > inner/flag.txt
(cd inner && zip -q ../outer/payload.zip flag.txt)
echo 'nothing here' > outer/README
tar cJf delivery.tar.xz -C outer .
rm -r inner outer
