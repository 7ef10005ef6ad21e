[ "$(cd links && find . \( -type l -o -type f \) | sort | tr '\n' ' ')" = "./chain ./file ./good ./sub/good2 " ]
