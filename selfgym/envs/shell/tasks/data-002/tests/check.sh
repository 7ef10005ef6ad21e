[ "$(jq -c . items.json)" = '[{"sku":"A1","name":"lamp","price":19.5},{"sku":"B7","name":"chair","price":45},{"sku":"C3","name":"desk","price":120.25}]' ]
