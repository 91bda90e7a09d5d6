/** The version of @boxoffice/idempotency this build is (from its package.json). */
export const VERSION: string = __PACKAGE_VERSION__;
