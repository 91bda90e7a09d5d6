/** The version of @boxoffice/seat-lock this build is (from its package.json). */
export const VERSION: string = __PACKAGE_VERSION__;
