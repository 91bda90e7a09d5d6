/** The version of @boxoffice/sketch this build is (from its package.json). */
export const VERSION: string = __PACKAGE_VERSION__;
