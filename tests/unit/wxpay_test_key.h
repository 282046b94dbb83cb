/*
 * A fixed RSA-2048 key pair for tests/unit/test_wxpay.c. TEST ONLY: it is
 * public and signs nothing real. The expected signatures in the test were
 * made from it with the openssl command line (dgst -sha256 -sign), not
 * with our code.
 */
#ifndef WXPAY_TEST_KEY_H
#define WXPAY_TEST_KEY_H

static const char  test_rsa_private[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC8XhwTBIPV1Yg1\n"
    "vI4NTaIs8YmFxJDWhyePzWJlGzL0YLBwiJCydLhMo/tFsUMC4+VwG5WYfBJwiU8y\n"
    "fsYD+iTs79m2USxVHnRXXwx6dIPUYkiEP4pi7CDyHHTHnzQirxC2jIa4Hf7fwwx6\n"
    "Me/JLXw8F/I7RrjWA7PwrBKvc+0cqkrehE3Yt43aEE2QVFhpPtmN6Eg3/jj5oF4i\n"
    "X/j0A2ue8mIT6qkdZPqsN9PcT0MnxMN9AUIn4XK1VTG9guCh5cTr9DaL6ej0s1Xf\n"
    "/vGs8/6AtFIcXZwAPVSOKo38esIZVawb3tW1SyH3wFUkuHyMhSa1YrT3P+yWG0bp\n"
    "RxfK8gKTAgMBAAECggEAHW6W9GHAN6klnz/W8j0vGdajpkMQXnS/ubhdp26Yh5aT\n"
    "+wFbmoaiRVdZ64nG7qytLNciiLDaMLtDpKAqUHTFUEApxFLqmmIny38OdBPAhW7V\n"
    "5dQHy20ZuLq5hHdbrg+sjNloM1x8dnoDeRRUYxq4TqtvLdPfDZGGjBRW1xNF+TRd\n"
    "15h8XpUGr1G5yS+KjfsFNk4+9/vvC+/59i/7zhfBU20pqPG7YS4W/iHhk4FFG9hq\n"
    "aoUuqMz2+n16+dH0Lf2qYNM2+pLXoRPnGYb2qCwCinaBb8M6A5W+g6bkWJlAWElm\n"
    "lekvBSv5HS3P2JWc/GDUoM5yFNryGGIVFD5S89zAAQKBgQDh9r07C6ucNJDvpa+I\n"
    "prJ5mOtEd38I7SDTcUdrCFR4XlcKyU85wEYOQNHhL2WRhUuDJuMI+8pPtNMO1lIW\n"
    "bnqqF5I5EEHEloCEKIDJhXW0t0vUL1Xj8UhdCgJ2vzMO+bB6AbaQP5ZbrkLzKY/H\n"
    "ygkY8N7KFRvI5o2d41lXOncexQKBgQDVaAT5bJycvOMjpM+EnzV+uU1IZWycpuwx\n"
    "vNjnkZgqLD6dI4W6F0i4HS0nvaRHTokYQ1P+bDMkamWZhURwmiwYd6SYVpx8q4Kd\n"
    "YYqNYDoFOZT+kbassCm24Z8XQIpGr2bS61zys25q27d1BWwqtb06htalM2pdmj+5\n"
    "Q9f46OMxdwKBgH09qLxlR4SYjgyFpLj0y88htqSIJtznsV4AVzk3sLnWcCAGW+cC\n"
    "btHPk4RgJMd3Pdc/Ym7EP+nVq3V5zJ2qNkq4Lc969zjiwfB+EoOfeRHk1h6Q7eYd\n"
    "AaKvvZXbe409T1cQRAPHeqrt9yWXT53ImSo9tv4CnRfI0Y1FSWtTeFqRAoGAHlyK\n"
    "OKJHNdV5y1xrWcb86WabpC0p4q+s8vaXNXr1VyqsTdb785nUcr1T60+Dy9FUl+sc\n"
    "TBpAvHGWutzG++4zT9fVxwarhOEx2ApEmBCUsKGcnQtGHhOCG87Fv50jDyNtUZzC\n"
    "wJTepL1VwIRg+0KYBXehmidSfravUkBgvb0EdckCgYBtA7ugxYhfw0VvQbCyXV8Y\n"
    "6WUpJFeN7gRv/osX5xO+HK2931TUKvT4f+YeSe8Avn1dD3G5GiiBdGIqd4NBeuJC\n"
    "DeeZ034sOXTTq+C74ihv3FYL6Ww2hF+8V/MoS/o23vsXfSGO+ZSCU8Prza2qqkgf\n"
    "et7V6k8ftbHt7lXVC5l9zQ==\n"
    "-----END PRIVATE KEY-----\n";

static const char  test_rsa_public[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAvF4cEwSD1dWINbyODU2i\n"
    "LPGJhcSQ1ocnj81iZRsy9GCwcIiQsnS4TKP7RbFDAuPlcBuVmHwScIlPMn7GA/ok\n"
    "7O/ZtlEsVR50V18MenSD1GJIhD+KYuwg8hx0x580Iq8QtoyGuB3+38MMejHvyS18\n"
    "PBfyO0a41gOz8KwSr3PtHKpK3oRN2LeN2hBNkFRYaT7ZjehIN/44+aBeIl/49ANr\n"
    "nvJiE+qpHWT6rDfT3E9DJ8TDfQFCJ+FytVUxvYLgoeXE6/Q2i+no9LNV3/7xrPP+\n"
    "gLRSHF2cAD1UjiqN/HrCGVWsG97VtUsh98BVJLh8jIUmtWK09z/slhtG6UcXyvIC\n"
    "kwIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

#endif
