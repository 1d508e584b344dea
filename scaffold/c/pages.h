/* The pages of __NAME__: registered by main.c to serve them and by test.c to test them. */
#ifndef PAGES_H
#define PAGES_H

#include "mizulive.h"

/* Registers /counter and /list on `app`; LV_OK or the failing call's code
 * (lv_last_error() says why). */
int pages_register(lv_app *app);

#endif
