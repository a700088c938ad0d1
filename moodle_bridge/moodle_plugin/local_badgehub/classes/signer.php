<?php
// This file is part of Badge Hub's Moodle bridge (GPL v3 or later).

namespace local_badgehub;

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com/, spec "Signature scheme").
 *
 * The signed content is "<webhook-id>.<webhook-timestamp>.<body>", HMAC-SHA256 with the secret's bytes
 * (the base64 after "whsec_"), sent base64-encoded as "v1,<signature>". Pure PHP with no Moodle
 * dependency, so the hub's tests run it with php-cli and verify it with the Python verifier.
 *
 * @package    local_badgehub
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class signer {
    /**
     * Sign a message.
     *
     * @param string $secret "whsec_<base64>" (the prefix is optional)
     * @param string $id the webhook-id header, stable across retries of one message
     * @param int $timestamp Unix seconds, the webhook-timestamp header
     * @param string $body the exact bytes that will be sent
     * @return string "v1,<base64 HMAC-SHA256>"
     * @throws \InvalidArgumentException when the secret is not base64
     */
    public static function sign(string $secret, string $id, int $timestamp, string $body): string {
        $key = base64_decode(preg_replace('/^whsec_/', '', trim($secret)), true);
        if ($key === false || $key === '') {
            throw new \InvalidArgumentException('The signing secret must be whsec_ followed by base64.');
        }
        return 'v1,' . base64_encode(hash_hmac('sha256', $id . '.' . $timestamp . '.' . $body, $key, true));
    }

    /**
     * The three Standard Webhooks headers for a message.
     *
     * @param string $secret "whsec_<base64>"
     * @param string $id message id
     * @param int $timestamp Unix seconds
     * @param string $body exact body bytes
     * @return array<string, string> header name => value
     */
    public static function headers(string $secret, string $id, int $timestamp, string $body): array {
        return [
            'webhook-id' => $id,
            'webhook-timestamp' => (string) $timestamp,
            'webhook-signature' => self::sign($secret, $id, $timestamp, $body),
        ];
    }
}
