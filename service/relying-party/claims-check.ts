// The claim schemas a verifier checks on every request, compiled once when the library loads.
// TypeBox's Value.Check walks the schema anew for each value, which cost an access service
// about a tenth of a request; the compiled check is the same schema as one function. Where
// the process forbids code generation (node --disallow-code-generation-from-strings), the
// walk is used instead: the same verdicts, only slower.
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { DeviceTokenClaimsSchema, DpopClaimsSchema } from '../../common/attestation.js';
import { isValid } from '../../common/validate.js';

type Check<T extends TSchema> = (value: unknown) => value is Static<T>;

function compiledCheck<T extends TSchema>(schema: T): Check<T> {
  try {
    const compiled = TypeCompiler.Compile(schema);
    return (value): value is Static<T> => compiled.Check(value);
  } catch (e) {
    if (!(e instanceof EvalError)) throw e;
    return (value): value is Static<T> => isValid(schema, value);
  }
}

export const isDeviceTokenClaims = compiledCheck(DeviceTokenClaimsSchema);
export const isDpopClaims = compiledCheck(DpopClaimsSchema);
