#!/bin/bash
# A plausible wrong attempt: it must earn reward 0.
find www -type d -exec chmod 755 {} + && find www -type f -exec chmod 644 {} + && chmod 755 www/app.cgi
