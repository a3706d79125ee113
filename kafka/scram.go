package kafka

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// The server side of SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677),
// written here rather than taken from xdg-go/scram because librdkafka
// (kcat, confluent-kafka-go and the other librdkafka clients) sends its
// own nonce again in front of the combined nonce in client-final-message
// ("r=" + c-nonce + c-nonce + s-nonce): Kafka's ScramSaslServer accepts any
// nonce that ends with the one it sent, xdg-go/scram wants them equal and
// refused librdkafka (TestKcatSASLSSL). The nonce must still end with the
// server's fresh part, so a replayed exchange does not pass. As in Kafka,
// names and passwords are not SASLprep-normalised; channel binding is not
// offered; extensions (Kafka's tokenauth) are ignored.

// scramHash returns the hash of a SCRAM mechanism.
func scramHash(mechanism string) func() hash.Hash {
	if mechanism == MechanismScramSHA512 {
		return sha512.New
	}
	return sha256.New
}

// ScramCredential is a user's stored credential for one SCRAM mechanism
// (RFC 5802 §3): what the server keeps instead of the password.
type ScramCredential struct {
	Salt                 []byte
	Iterations           int
	StoredKey, ServerKey []byte
}

// deriveScramCreds derives credentials from a password with a new random
// salt.
func deriveScramCreds(h func() hash.Hash, password string, iterations int) (ScramCredential, error) {
	salt := make([]byte, 24)
	if _, err := rand.Read(salt); err != nil {
		return ScramCredential{}, err
	}
	salted, err := pbkdf2.Key(h, password, salt, iterations, h().Size())
	if err != nil {
		return ScramCredential{}, err
	}
	return credentialFromSalted(h, salted, salt, iterations), nil
}

// credentialFromSalted is the credential of a salted password
// (Hi(password, salt, iterations)), which AlterUserScramCredentials sends.
func credentialFromSalted(h func() hash.Hash, salted, salt []byte, iterations int) ScramCredential {
	clientKey := hmacSum(h, salted, []byte("Client Key"))
	stored := h()
	stored.Write(clientKey)
	return ScramCredential{
		Salt: salt, Iterations: iterations,
		StoredKey: stored.Sum(nil), ServerKey: hmacSum(h, salted, []byte("Server Key")),
	}
}

// matches reports whether password is the one c was derived from.
func (c ScramCredential) matches(h func() hash.Hash, password string) bool {
	salted, err := pbkdf2.Key(h, password, c.Salt, c.Iterations, h().Size())
	if err != nil {
		return false
	}
	return hmac.Equal(credentialFromSalted(h, salted, c.Salt, c.Iterations).StoredKey, c.StoredKey)
}

func hmacSum(h func() hash.Hash, key, data []byte) []byte {
	m := hmac.New(h, key)
	m.Write(data)
	return m.Sum(nil)
}

// scramConv is one exchange: client-first → server-first, client-final →
// server-final.
type scramConv struct {
	h      func() hash.Hash
	lookup func(user string) (ScramCredential, error)
	// token, when delegation tokens are on, looks up a token's credential
	// and owner for a client-first with the tokenauth extension.
	token func(id string) (ScramCredential, string, error)
	// viaToken: the client authenticated with a delegation token, as
	// user (its owner).
	viaToken bool

	step            int // messages taken so far
	user            string
	gs2Header       string
	clientFirstBare string
	serverFirst     string
	nonce           string // c-nonce + s-nonce, as sent in server-first
	creds           ScramCredential
}

var errScramMessage = errors.New("malformed SCRAM message")

// Next is next for SASLExchange.
func (c *scramConv) Next(token []byte) ([]byte, string, error) {
	out, user, err := c.next(string(token))
	return []byte(out), user, err
}

// next takes a client message and returns the server's answer, and the
// authenticated user once the exchange has succeeded.
func (c *scramConv) next(msg string) (out, user string, err error) {
	c.step++
	switch c.step {
	case 1:
		return c.clientFirst(msg)
	case 2:
		return c.clientFinal(msg)
	}
	return "", "", errors.New("SCRAM exchange already finished")
}

func (c *scramConv) clientFirst(msg string) (string, string, error) {
	// gs2-header = gs2-cbind-flag "," [ authzid ] ","
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok || (flag != "n" && flag != "y") { // "p=…" asks for channel binding
		return "", "", errScramMessage
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return "", "", errScramMessage
	}
	c.gs2Header, c.clientFirstBare = flag+","+authz+",", bare
	attrs, ok := scramAttrs(bare, true)
	if !ok || attrs["m"] != "" {
		return "", "", errScramMessage // a mandatory extension we do not know
	}
	user, ok := scramName(attrs["n"])
	if !ok || user == "" || attrs["r"] == "" {
		return "", "", errScramMessage
	}
	if authz != "" {
		if z, ok := scramName(strings.TrimPrefix(authz, "a=")); !ok || !strings.HasPrefix(authz, "a=") || z != user {
			return "", "", errAuthFailed // acting as another user is not supported
		}
	}
	var creds ScramCredential
	var err error
	switch {
	case attrs["tokenauth"] == "true" && c.token != nil: // KIP-48: user is a token ID
		var owner string
		creds, owner, err = c.token(user)
		user, c.viaToken = owner, true
	case attrs["tokenauth"] == "true":
		err = fmt.Errorf("%w: delegation tokens are not enabled (kafka.delegation-token-secret-key)", errAuthFailed)
	default:
		creds, err = c.lookup(user)
	}
	if err != nil {
		return "", "", err
	}
	snonce := make([]byte, 18)
	if _, err := rand.Read(snonce); err != nil {
		return "", "", err
	}
	c.user, c.creds = user, creds
	c.nonce = attrs["r"] + base64.RawURLEncoding.EncodeToString(snonce)
	c.serverFirst = "r=" + c.nonce + ",s=" + base64.StdEncoding.EncodeToString(creds.Salt) + ",i=" + strconv.Itoa(creds.Iterations)
	return c.serverFirst, "", nil
}

func (c *scramConv) clientFinal(msg string) (string, string, error) {
	withoutProof, proofB64, ok := strings.Cut(msg, ",p=")
	if !ok || strings.Contains(proofB64, ",") {
		return "", "", errScramMessage
	}
	attrs, ok := scramAttrs(withoutProof, false)
	if !ok {
		return "", "", errScramMessage
	}
	if attrs["c"] != base64.StdEncoding.EncodeToString([]byte(c.gs2Header)) {
		return "", "", errAuthFailed // channel binding data differs
	}
	if !strings.HasSuffix(attrs["r"], c.nonce) { // librdkafka: see above
		return "", "", errAuthFailed
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil || len(proof) != len(c.creds.StoredKey) {
		return "", "", errAuthFailed
	}
	authMessage := []byte(c.clientFirstBare + "," + c.serverFirst + "," + withoutProof)
	signature := hmacSum(c.h, c.creds.StoredKey, authMessage)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ signature[i]
	}
	stored := c.h()
	stored.Write(clientKey)
	if !hmac.Equal(stored.Sum(nil), c.creds.StoredKey) {
		return "", "", errAuthFailed
	}
	return "v=" + base64.StdEncoding.EncodeToString(hmacSum(c.h, c.creds.ServerKey, authMessage)), c.user, nil
}

// scramAttrs parses a,=value pairs separated by commas; a key may appear
// once. With extensions, keys may be words (Kafka's SCRAM extensions,
// KIP-84: tokenauth=true).
func scramAttrs(s string, extensions bool) (map[string]string, bool) {
	attrs := map[string]string{}
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || len(k) == 0 || len(k) != 1 && !extensions {
			return nil, false
		}
		if _, dup := attrs[k]; dup {
			return nil, false
		}
		attrs[k] = v
	}
	return attrs, true
}

// scramName decodes a saslname: "=2C" is a comma, "=3D" an equals sign,
// and any other "=" is invalid.
func scramName(s string) (string, bool) {
	if !strings.Contains(s, "=") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}
