"""Activity names: the workflow refers to activities by name, so it never imports their code."""

GATHER_CONTEXT = "gather_context"
PLAN_HYPOTHESES = "plan_hypotheses"
TEST_HYPOTHESIS = "test_hypothesis"
CONCLUDE = "conclude_investigation"
PUBLISH_FINDINGS = "publish_findings"
EXECUTE_ACTION = "execute_action"
EVALUATE = "evaluate_investigation"
