#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '#!/bin/bash\numask 022\n: > "$1"\n' > mkprivate.sh
