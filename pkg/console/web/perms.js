// What the signed-in caller may do, from its scopes, to hide or disable the actions it
// lacks. The API decides; this only spares the user buttons that would answer 403.

/** parse splits "action@resource" (resource may end with * for a prefix). */
export function parse(scope) {
  const at = scope.indexOf('@');
  return at < 0 ? { action: scope, resource: '' } : { action: scope.slice(0, at), resource: scope.slice(at + 1) };
}

function resourceCovers(pattern, resource) {
  if (pattern.endsWith('*')) return resource.startsWith(pattern.slice(0, -1));
  return pattern === resource;
}

/** covers reports whether scopes grant action on the key owner given; with owner
 * undefined, whether they grant it for some owner at all. */
export function covers(scopes, action, owner) {
  for (const s of scopes || []) {
    if (s === '*') return true;
    const p = parse(s);
    if (p.action !== action) continue;
    if (p.resource === '' || owner === undefined) return true;
    if (p.resource.startsWith('owner:') && resourceCovers(p.resource.slice(6), owner)) return true;
  }
  return false;
}

/** can is what the caller may do, for the console's buttons. */
export function can(scopes) {
  return {
    read: covers(scopes, 'keys:read'),
    write: covers(scopes, 'keys:write'),
    audit: covers(scopes, 'audit:read'),
    writeKey: (k) => covers(scopes, 'keys:write', k.owner || ''),
    revokeKey: (k) => covers(scopes, 'keys:write', k.owner || '') || covers(scopes, 'keys:revoke', k.owner || ''),
  };
}

const ACTIONS = {
  'keys:read': 'read keys',
  'keys:write': 'create, change, rotate and delete keys',
  'keys:revoke': 'revoke keys',
  'keys:verify': 'verify keys (POST /v1/keys/verify)',
  'audit:read': 'read the audit log and key events',
  'tokens:introspect': 'introspect tokens',
};

/** describe says in words what one scope allows. */
export function describe(scope) {
  if (scope === '*') return 'Every permission.';
  const p = parse(scope);
  const what = ACTIONS[p.action];
  if (!what) {
    const on = p.resource ? ` on ${p.resource}` : '';
    return `Your organisation's own permission ${p.action}${on}, passed to backends.`;
  }
  if (!p.resource) return `May ${what}, for every owner.`;
  if (p.resource.startsWith('owner:')) {
    const o = p.resource.slice(6);
    return o.endsWith('*') ? `May ${what} of owners starting with "${o.slice(0, -1)}".` : `May ${what} of owner "${o}".`;
  }
  return `May ${what}, on ${p.resource}.`;
}
