import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { MeteringStack } from './metering-stack.js';

/** The CDK app: one environment-agnostic stack, checked against the AWS Solutions rules at synth. */
export const app = new App();
new MeteringStack(app, 'SerenityMetering', { description: 'Serenity usage metering pipeline' });
// Any unacknowledged finding, warning or error, fails the synth.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
