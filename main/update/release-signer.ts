// Who signs our Windows releases: the full distinguished name of the code-signing
// certificate's subject, as Windows prints it (most specific first). An update is installed
// only when its Authenticode signer has exactly this name (main/update/authenticode.ts).
// electron-builder.yml's win.signtoolOptions.publisherName carries the same string into
// app-update.yml; tests/main/update/release-signer.test.ts keeps the two equal. Changing
// the certificate's subject means a release that still installs under the old name first.
export const RELEASE_SIGNER_DN = 'CN=Device Trust Project, O=Device Trust Project, L=Berlin, C=DE';
