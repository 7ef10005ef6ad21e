printf 'Hello {{USER}}, your plan is {{PLAN}}.\nRenew by {{DATE}}. {{USER}}, keep {{UNKNOWN}} safe.\n' > template.txt
printf 'USER=dana\nPLAN=pro & more\nDATE=2024/12/31\n' > values.env
