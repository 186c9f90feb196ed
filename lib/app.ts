// The CDK app entry (cdk.json runs it): one environment-agnostic stack, so `cdk synth` needs no
// account, region or network, checked against the AWS Solutions rules during synthesis.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { MeteringStack } from './metering-stack.js';

const app = new App();
new MeteringStack(app, 'SerenityMetering', { description: 'Serenity usage metering pipeline' });
// Any finding not acknowledged next to the construct it concerns, warning or error, fails the synth.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
