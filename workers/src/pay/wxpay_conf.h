/*
 * WeChat Pay directives of mall-worker.conf (parsed by mall_conf.c through
 * wxpay_conf_directive()). Plain data, no pointers: the master copies the
 * config by value on reload; each child turns the PEM text into OpenSSL
 * keys on first use (wxpay_keys.c). Payments are on when wxpay_mchid_file
 * is set; then every key below must be given.
 *
 *   wxpay_api_base https://api.mch.weixin.qq.com
 *   wxpay_mchid_file /keys/wechat/mchid        merchant id
 *   wxpay_merchant_key /keys/wechat/merchant_private.pem
 *                                  merchant API key (RSA-2048): signs every
 *                                  request and the paySign
 *   wxpay_merchant_serial_file /keys/wechat/merchant_serial
 *                                  its certificate serial (serial_no)
 *   wxpay_apiv3_key_file /keys/wechat/apiv3.key
 *                                  32-byte APIv3 key (notification resources)
 *   wxpay_platform_key FILE [ID]   a key WeChat Pay signs with, repeatable
 *                                  (rotation: every listed key is accepted):
 *                                  a platform certificate (its serial is the
 *                                  id) or a public key with its id
 *                                  (PUB_KEY_ID_...); ID may also be the path
 *                                  of a file holding it
 *   wxpay_notify_url https://shop.example.com/api/v1/payments/wechat/notify
 *                                  where WeChat posts payment and refund
 *                                  notifications (no query string)
 *   wxpay_timeout_ms 5000          one call to WeChat Pay, retries included
 *   wxpay_notify_max_age 300       seconds a notification's timestamp may be
 *                                  old (or ahead)
 *   wxpay_query_interval 5         seconds between queries of one order that
 *                                  reads of it trigger
 *   wxpay_query_lead 300           the query job looks at unpaid orders with
 *                                  a prepay this close to their deadline
 *   wxpay_refund_retry 30          seconds before a refund whose submission
 *                                  got no answer is sent again (doubling, up
 *                                  to an hour); also the first look at a
 *                                  refund still processing
 *   wxpay_reconcile_at 10:30       daily reconciliation of the day before
 *                                  (Beijing time, when WeChat has the bill);
 *                                  "off" disables the job (mallctl reconcile
 *                                  still works)
 */
#ifndef WXPAY_CONF_H
#define WXPAY_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "mall_common.h"

#define WXPAY_CONF_NOT_MINE   1      /* wxpay_conf_directive(): not ours */
#define WXPAY_MAX_PLATFORM    8
#define WXPAY_ID_MAX          72     /* serial or PUB_KEY_ID_... + NUL */
#define WXPAY_PEM_MAX         4096
#define WXPAY_APIV3_KEY_LEN   32
#define WXPAY_URL_MAX         256

typedef struct {
    char      id[WXPAY_ID_MAX];      /* "" for the merchant key */
    char      pem[WXPAY_PEM_MAX];
    size_t    pem_len;
} wxpay_pem_t;

typedef struct {
    char         api_base[WXPAY_URL_MAX];       /* no trailing '/' */
    char         mchid[33];                     /* "" = payments off */
    char         merchant_serial[WXPAY_ID_MAX];
    wxpay_pem_t  merchant_key;
    wxpay_pem_t  platform[WXPAY_MAX_PLATFORM];
    size_t       n_platform;
    uint8_t      apiv3_key[WXPAY_APIV3_KEY_LEN];
    size_t       apiv3_len;
    char         notify_url[WXPAY_URL_MAX];
    int          timeout_ms;
    int          notify_max_age;                /* seconds */
    int          query_interval;                /* seconds */
    int          query_lead;                    /* seconds */
    int          refund_retry;                  /* seconds */
    int          reconcile_minute;              /* of the day, -1 = off */
    unsigned     seen;
} wxpay_conf_t;

void wxpay_conf_init(wxpay_conf_t *c);

/*
 * Applies one directive (argv[0] is its name). MALL_OK, MALL_ERR with the
 * reason in err, or WXPAY_CONF_NOT_MINE. Key files are read here.
 */
int wxpay_conf_directive(wxpay_conf_t *c, char **argv, int argc,
    mall_err_t *err);

/* After the whole file: all or nothing of the payment settings. */
int wxpay_conf_validate(const wxpay_conf_t *c, const char *appid,
    mall_err_t *err);

/* 1 when payments are configured. */
int wxpay_conf_enabled(const wxpay_conf_t *c);

/* Overwrites every secret. */
void wxpay_conf_wipe(wxpay_conf_t *c);

#endif
