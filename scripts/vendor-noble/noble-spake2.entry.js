// The pieces of @noble/curves and @noble/hashes ORA's browser SPAKE2 needs (assets/web/ora-pake.js).
export { ed25519 } from "@noble/curves/ed25519.js";
export { sha256 } from "@noble/hashes/sha2.js";
export { hkdf } from "@noble/hashes/hkdf.js";
