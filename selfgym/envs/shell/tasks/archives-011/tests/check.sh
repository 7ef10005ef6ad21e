[ "$(sha256sum < big.txt | cut -d' ' -f1)" = "$(cat .expected)" ]
