#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
printf '#!/bin/bash\ntouch "$1"\n' > mkprivate.sh
