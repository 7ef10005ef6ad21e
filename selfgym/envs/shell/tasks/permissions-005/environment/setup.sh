mkdir drop
