[ "$(cd tmp && find . | sort | tr '\n' ' ')" = ". ./c ./c/keep.txt ./d ./d/data " ]
