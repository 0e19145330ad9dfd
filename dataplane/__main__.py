from dataplane.cli.main import main

raise SystemExit(main())
