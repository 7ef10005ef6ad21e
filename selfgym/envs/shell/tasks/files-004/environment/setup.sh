echo "k3y" > secret.key
printf '#!/bin/sh\necho deployed\n' > deploy.sh
chmod 644 secret.key deploy.sh
