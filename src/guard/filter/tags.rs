//! fail2ban's regex tags (`<HOST>`, `<ADDR>`, `<F-USER>`, ...) expanded into Python regex text.
