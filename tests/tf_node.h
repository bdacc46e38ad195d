/*
 * tf_node.h -- the tests' own node and its scenario "tf" (tf_node.c): a
 * team's node under the framework's flood, for test_flood and test_seeds.
 */
#ifndef DEJA_TESTS_TF_NODE_H
#define DEJA_TESTS_TF_NODE_H

#define TF_TAG 0xF1    /* the node's one message kind */
#define TF_LEN 12      /* tag, 8 bytes of body, the receiver's and the sender's id (low byte), padding */
#define TF_WORKERS 2
#define TF_QUEUE 16

/* Registers the program and the scenario "tf". */
void tf_register(void);

#endif /* DEJA_TESTS_TF_NODE_H */
