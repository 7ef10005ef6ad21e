#!/bin/bash
# The reference solution: selfgym's reference actions, in order.
printf '#!/bin/bash\numask 077\n: > "$1"\n' > mkprivate.sh
