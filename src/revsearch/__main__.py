from revsearch.cli import main

main()
