# the digest of `seq 1 20000`
[ "$(sha256sum < big.txt | cut -d' ' -f1)" = f6351f5ead9a700e34275480b3856ea738122a7c57bdeb744a631251c069587a ]
