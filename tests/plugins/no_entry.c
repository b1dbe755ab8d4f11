/* SPDX-License-Identifier: Apache-2.0 */
/* A shared object that is not a Rampart plugin: no entry symbol. */
__attribute__((visibility("default"))) int not_a_rampart_plugin = 1;
