/*
 * Notification directives (see notify_conf.h).
 */
#include <stdio.h>
#include <string.h>

#include "mall_query.h"
#include "notify_conf.h"

static const char  *event_names[NOTIFY_EV_COUNT] = {
    "paid", "shipped", "refund"
};

static const char  *sources[] = {
    "order_id", "product", "amount", "carrier", "tracking_no", "time",
    "status"
};


void
notify_conf_init(notify_conf_t *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->state, sizeof(c->state), "formal");
    snprintf(c->lang, sizeof(c->lang), "zh_CN");
    c->retry_max = 8;
    c->retry_base_ms = 1000;
}


notify_event_e
notify_event_parse(const char *s)
{
    unsigned  i;

    for (i = 0; i < NOTIFY_EV_COUNT; i++) {
        if (strcmp(s, event_names[i]) == 0) {
            return (notify_event_e) i;
        }
    }
    return NOTIFY_EV_COUNT;
}


const char *
notify_event_name(notify_event_e e)
{
    return (unsigned) e < NOTIFY_EV_COUNT ? event_names[e] : "";
}


static int
template_directive(notify_conf_t *c, char **argv, int argc, mall_err_t *err)
{
    notify_template_t  *t;
    notify_event_e      ev;
    const char         *eq;
    size_t              i, j;

    if (argc >= 3 && strcmp(argv[2], "off") == 0
        && notify_event_parse(argv[1]) != NOTIFY_EV_COUNT)
    {
        memset(&c->tpl[notify_event_parse(argv[1])], 0, sizeof(*t));
        return MALL_OK;
    }
    if (argc < 4 || argc - 4 > NOTIFY_FIELDS_MAX) {
        return mall_err_set(err, 0, "notify_template takes <event> "
                            "<template_id> <page> and up to %d key=source",
                            NOTIFY_FIELDS_MAX);
    }
    ev = notify_event_parse(argv[1]);
    if (ev == NOTIFY_EV_COUNT || strlen(argv[2]) >= NOTIFY_TPL_MAX
        || strlen(argv[3]) >= sizeof(t->page))
    {
        return mall_err_set(err, 0, "notify_template: event is paid, "
                            "shipped or refund; id < 128, page < 128");
    }
    t = &c->tpl[ev];
    memset(t, 0, sizeof(*t));
    snprintf(t->template_id, sizeof(t->template_id), "%s", argv[2]);
    snprintf(t->page, sizeof(t->page), "%s", argv[3]);
    for (i = 4; i < (size_t) argc; i++) {
        eq = strchr(argv[i], '=');
        for (j = 0; eq != NULL && j < MALL_ARRAY_LEN(sources)
                    && strcmp(eq + 1, sources[j]) != 0; j++) {
        }
        if (eq == NULL || eq == argv[i] || j == MALL_ARRAY_LEN(sources)
            || (size_t) (eq - argv[i]) >= sizeof(t->fields[0].key))
        {
            return mall_err_set(err, 0, "notify_template: \"%s\" is not "
                                "key=source (order_id, product, amount, "
                                "carrier, tracking_no, time, status)",
                                argv[i]);
        }
        memcpy(t->fields[t->nfields].key, argv[i], (size_t) (eq - argv[i]));
        snprintf(t->fields[t->nfields].source,
                 sizeof(t->fields[0].source), "%s", eq + 1);
        t->nfields++;
    }
    return MALL_OK;
}


int
notify_conf_directive(notify_conf_t *c, char **argv, int argc,
    mall_err_t *err)
{
    long long  v;

    if (strcmp(argv[0], "notify_template") == 0) {
        return template_directive(c, argv, argc, err);
    }
    if (strcmp(argv[0], "notify_miniprogram_state") == 0) {
        if (argc != 2 || (strcmp(argv[1], "formal") != 0
                          && strcmp(argv[1], "trial") != 0
                          && strcmp(argv[1], "developer") != 0))
        {
            return mall_err_set(err, 0, "notify_miniprogram_state is "
                                "formal, trial or developer");
        }
        snprintf(c->state, sizeof(c->state), "%s", argv[1]);
        return MALL_OK;
    }
    if (strcmp(argv[0], "notify_lang") == 0) {
        if (argc != 2 || strlen(argv[1]) >= sizeof(c->lang)) {
            return mall_err_set(err, 0, "notify_lang takes one language");
        }
        snprintf(c->lang, sizeof(c->lang), "%s", argv[1]);
        return MALL_OK;
    }
    if (strcmp(argv[0], "notify_retry_max") == 0) {
        if (argc != 2 || mall_parse_int(argv[1], 1, 30, &v) != MALL_OK) {
            return mall_err_set(err, 0, "notify_retry_max is 1..30");
        }
        c->retry_max = (int) v;
        return MALL_OK;
    }
    if (strcmp(argv[0], "notify_retry_base_ms") == 0) {
        if (argc != 2
            || mall_parse_int(argv[1], 10, 3600000, &v) != MALL_OK)
        {
            return mall_err_set(err, 0, "notify_retry_base_ms is "
                                "10..3600000");
        }
        c->retry_base_ms = (int) v;
        return MALL_OK;
    }
    return NOTIFY_CONF_NOT_MINE;
}


int
notify_conf_has_template(const notify_conf_t *c, const char *tpl)
{
    unsigned  i;

    for (i = 0; i < NOTIFY_EV_COUNT; i++) {
        if (c->tpl[i].template_id[0] != '\0'
            && strcmp(c->tpl[i].template_id, tpl) == 0)
        {
            return 1;
        }
    }
    return 0;
}
