/* Firecracker's NetworkInterface objects (PUT /network-interfaces/{id}, "network-interfaces" in a
 * config file) as Ember's virtio-net devices on TAPs, and PATCH's rate-limiter updates. */
#include <stdio.h>
#include <string.h>

#include "fc_devices.h"
#include "fc_rate_limiter.h"

#define WHAT "network-interfaces"

static int find_net(const struct fc_resources *r, const char *id)
{
	for (unsigned i = 0; i < r->nnets; i++)
		if (strcmp(r->nets[i].id, id) == 0)
			return (int)i;
	return -1;
}

static int check_body_id(const char *path_id, const char *body_id, struct error *e)
{
	if (path_id && strcmp(path_id, body_id) != 0)
		return error_set(e, "The id from the path [%s] does not match the id from the body "
				    "[%.80s]!", path_id, body_id);
	if (!fc_id_is_valid(body_id))
		return error_set(e, WHAT ": iface_id '%.80s' must be 1-%d characters of A-Z, a-z, "
				    "0-9 and _", body_id, FC_ID_MAX);
	/* Ember's net device names itself after the id (messages, metrics). */
	if (strlen(body_id) > NET_ID_MAX)
		return error_set(e, WHAT ": iface_id '%s' is longer than %d characters (Ember's "
				    "limit)", body_id, NET_ID_MAX);
	return 0;
}

static int read_interface(struct json_object *body, struct net_options *o, struct error *e)
{
	const char *tap = NULL, *mac = NULL;
	int64_t mtu = 0;
	struct rate_limiter_update rx, tx;
	if (fc_json_required(fc_json_get_string(body, WHAT, "host_dev_name", &tap, e), WHAT,
			     "host_dev_name", e) < 0 ||
	    fc_json_get_string(body, WHAT, "guest_mac", &mac, e) < 0 ||
	    fc_json_get_int(body, WHAT, "mtu", NET_MIN_MTU, NET_MAX_MTU, &mtu, e) < 0 ||
	    fc_json_get_rate_limiter(body, WHAT, "rx_rate_limiter", &rx, e) < 0 ||
	    fc_json_get_rate_limiter(body, WHAT, "tx_rate_limiter", &tx, e) < 0)
		return -1;
	if (net_tap_name_check(tap, e) < 0)
		return error_prefix(e, WHAT ": host_dev_name");
	strcpy(o->tap, tap);
	if (mac) {
		if (net_mac_parse(mac, o->mac, e) < 0)
			return error_prefix(e, WHAT ": guest_mac");
		o->mac_set = true;
	}
	o->mtu = (uint16_t)mtu;
	o->rx = rx.cfg;
	o->tx = tx.cfg;
	return 0;
}

int fc_put_network_interface(struct fc_resources *r, const char *path_id,
			     struct json_object *body, struct error *e)
{
	static const char *const fields[] = { "iface_id", "host_dev_name", "guest_mac", "mtu",
					      "rx_rate_limiter", "tx_rate_limiter", NULL };
	struct net_options o = { 0 };
	const char *id = NULL;
	if (fc_json_check_object(body, WHAT, fields, e) < 0 ||
	    fc_json_required(fc_json_get_string(body, WHAT, "iface_id", &id, e), WHAT, "iface_id",
			     e) < 0 ||
	    check_body_id(path_id, id, e) < 0)
		return -1;
	strcpy(o.id, id);
	if (read_interface(body, &o, e) < 0)
		return -1;
	/* The list as it would be: the same id is replaced in place (Firecracker moves it last). */
	struct net_options list[NET_MAX_DEVICES];
	unsigned n = r->nnets;
	int pos = find_net(r, id);
	if (pos < 0 && n == NET_MAX_DEVICES)
		return error_set(e, WHAT ": at most %d network interfaces", NET_MAX_DEVICES);
	memcpy(list, r->nets, n * sizeof(list[0]));
	if (pos >= 0)
		list[pos] = o;
	else
		list[n++] = o;
	if (net_options_check_list(list, n, e) < 0)
		return error_prefix(e, WHAT);
	memcpy(r->nets, list, n * sizeof(list[0]));
	r->nnets = n;
	return 0;
}

int fc_parse_network_interface_update(const struct fc_resources *r, const char *path_id,
				      struct json_object *body, struct fc_net_update *u,
				      struct error *e)
{
	static const char *const fields[] = { "iface_id", "rx_rate_limiter", "tx_rate_limiter",
					      NULL };
	const char *id = NULL;
	if (fc_json_check_object(body, WHAT, fields, e) < 0 ||
	    fc_json_required(fc_json_get_string(body, WHAT, "iface_id", &id, e), WHAT, "iface_id",
			     e) < 0 ||
	    check_body_id(path_id, id, e) < 0 ||
	    fc_json_get_rate_limiter(body, WHAT, "rx_rate_limiter", &u->rx, e) < 0 ||
	    fc_json_get_rate_limiter(body, WHAT, "tx_rate_limiter", &u->tx, e) < 0)
		return -1;
	int pos = find_net(r, id);
	if (pos < 0)
		return error_set(e, WHAT ": there is no network interface '%s'", id);
	u->index = (unsigned)pos;
	return 0;
}

void fc_apply_network_interface_update(struct fc_resources *r, const struct fc_net_update *u)
{
	if (u->index >= r->nnets)
		return;
	fc_rate_limiter_merge(&r->nets[u->index].rx, &u->rx);
	fc_rate_limiter_merge(&r->nets[u->index].tx, &u->tx);
}

static void add_limiter(struct json_object *o, const char *key, const struct rate_limiter_config *c)
{
	struct json_object *j = fc_rate_limiter_json(c);
	if (j)
		json_object_object_add(o, key, j);
}

static struct json_object *interface_json(const struct net_options *n)
{
	struct json_object *o = json_object_new_object();
	char mac[18];
	json_object_object_add(o, "iface_id", json_object_new_string(n->id));
	json_object_object_add(o, "host_dev_name", json_object_new_string(n->tap));
	if (n->mac_set)
		json_object_object_add(o, "guest_mac", json_object_new_string(net_mac_format(n->mac,
											      mac)));
	if (n->mtu)
		json_object_object_add(o, "mtu", json_object_new_int(n->mtu));
	add_limiter(o, "rx_rate_limiter", &n->rx);
	add_limiter(o, "tx_rate_limiter", &n->tx);
	return o;
}

struct json_object *fc_network_interfaces_json(const struct fc_resources *r)
{
	struct json_object *a = json_object_new_array();
	for (unsigned i = 0; i < r->nnets; i++)
		json_object_array_add(a, interface_json(&r->nets[i]));
	return a;
}
