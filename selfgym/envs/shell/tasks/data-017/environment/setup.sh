echo '[{"userId": 1, "fullName": "Ada L", "isActive": true}, {"userId": 2, "fullName": "Alan T", "isActive": false}]' > api.json
