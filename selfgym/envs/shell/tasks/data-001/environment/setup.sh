printf 'name,age,city\nana,31,Paris\nbo,25,Lyon\ncy,40,Paris\ndi,22,Parisian Hills\nel,35,Paris\n' > people.csv
