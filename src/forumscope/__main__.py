from forumscope.cli.main import entry

entry()
