from dancer.cli.main import main

main()
